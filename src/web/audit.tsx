import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api } from './api.js';
import { stamp } from './format.js';
import { memo } from './memo.js';
import type { AuditEntry } from './types.js';

const LIMIT = 500;

/** The audit log (admins), newest first, filtered by socket, actor and result. `refresh` bumps re-read it. */
export const AuditView = memo(function AuditView({ refresh }: { refresh: number }) {
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [socket, setSocket] = useState('');
  const [actor, setActor] = useState('');
  const [result, setResult] = useState('');
  const [again, setAgain] = useState(0);

  // `refresh` and `again` only ask for a re-read.
  useEffect(() => {
    void refresh;
    void again;
    let live = true;
    api<{ entries: AuditEntry[] }>('GET', `/api/v1/audit?limit=${LIMIT}`).then(
      (answer) => {
        if (!live) return;
        setEntries(answer.entries.slice().reverse());
        setError(null);
      },
      (failure: unknown) => {
        if (live) setError(failure instanceof ApiFailure ? failure.message : String(failure));
      },
    );
    return () => {
      live = false;
    };
  }, [refresh, again]);

  const wanted = actor.trim().toLowerCase();
  const shown = (entries ?? []).filter(
    (entry) =>
      (socket === '' || String(entry.socket ?? '') === socket) &&
      (result === '' || entry.result === result) &&
      (wanted === '' ||
        `${entry.actor.kind}:${entry.actor.id} ${entry.actor.name ?? ''}`.toLowerCase().includes(wanted)),
  );
  const sockets = [
    ...new Set((entries ?? []).flatMap((e) => (e.socket === undefined ? [] : [e.socket]))),
  ].sort((a, b) => a - b);
  return (
    <section class="audit" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Socket
          <select value={socket} onChange={(e) => setSocket(e.currentTarget.value)}>
            <option value="">all</option>
            {sockets.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          Actor
          <input type="search" value={actor} onInput={(e) => setActor(e.currentTarget.value)} />
        </label>
        <label>
          Result
          <select value={result} onChange={(e) => setResult(e.currentTarget.value)}>
            <option value="">all</option>
            <option value="ok">ok</option>
            <option value="error">error</option>
          </select>
        </label>
        <button type="button" onClick={() => setAgain(again + 1)}>
          Refresh
        </button>
      </form>
      {error && <p class="error">The audit log could not be read: {error}</p>}
      {entries && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Socket</th>
                <th scope="col">Result</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((entry, i) => (
                <tr key={`${entry.time}-${i}`} class={entry.result}>
                  <td>{stamp(entry.time)}</td>
                  <td>
                    {entry.actor.kind}:{entry.actor.name ?? entry.actor.id}
                  </td>
                  <td>{entry.action}</td>
                  <td>
                    {entry.socket === undefined
                      ? ''
                      : `${entry.socket}${entry.socketName ? ` ${entry.socketName}` : ''}`}
                  </td>
                  <td title={entry.message}>{entry.result === 'ok' ? 'ok' : (entry.code ?? 'error')}</td>
                  <td class="reason">
                    {typeof entry.details?.reason === 'string' ? entry.details.reason : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {shown.length === 0 && <p>No entries match.</p>}
        </div>
      )}
    </section>
  );
});
