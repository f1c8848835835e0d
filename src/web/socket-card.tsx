import { useEffect, useState } from 'preact/hooks';
import { PowerChart } from './chart.js';
import { amps, clock, seconds, socketLabel, watts } from './format.js';
import type { PowerHistory } from './history.js';
import { memo } from './memo.js';
import type { SocketInfo, SocketMay, StepReport } from './types.js';

export type SocketAction = 'on' | 'off' | 'cycle' | 'cancel';

export interface ActionOptions {
  force?: boolean;
  reason?: string;
  offTime?: string;
}

export interface SocketCardProps {
  socket: SocketInfo;
  may: SocketMay | undefined;
  steps: StepReport[];
  history: PowerHistory;
  version: number;
  run(socket: SocketInfo, action: SocketAction, options: ActionOptions): void;
}

const NOT_KNOWN = 'your permissions are not known yet';

function stateText(socket: SocketInfo): string {
  if (socket.on === null) return 'Unknown';
  return socket.on ? 'On' : 'Off';
}

/** One socket: its switch (role="switch", aria-checked = the board's state), readings, work and menu. */
export const SocketCard = memo(function SocketCard({
  socket,
  may,
  steps,
  history,
  version,
  run,
}: SocketCardProps) {
  const [reason, setReason] = useState('');
  const [offTime, setOffTime] = useState('');
  const [chart, setChart] = useState(false);
  const label = socketLabel(socket);
  const next = socket.on ? 'off' : 'on';
  const refusal = may ? may[next] : NOT_KNOWN;
  const reasonId = `s${socket.number}-why`;
  const options = (): ActionOptions => (reason.trim() ? { reason: reason.trim() } : {});
  const state = socket.on === null ? 'unknown' : socket.on ? 'on' : 'off';
  return (
    <article class={`socket ${state}${socket.pending ? ' busy' : ''}`} data-socket={socket.number}>
      <header>
        <span class="number" aria-hidden="true">
          {socket.number}
        </span>
        <h3>{socket.name ?? `Socket ${socket.number}`}</h3>
        {socket.protected && (
          <span class="badge protected" title="Protected: switching it off needs an admin and a confirmation">
            protected
          </span>
        )}
      </header>
      <div class="control">
        <button
          type="button"
          role="switch"
          class="switch"
          aria-checked={socket.on === true ? 'true' : 'false'}
          aria-label={`${label}: power`}
          aria-describedby={refusal ? reasonId : undefined}
          disabled={refusal !== null}
          title={refusal ?? `Switch ${label} ${next}`}
          onClick={() => run(socket, next, options())}
        >
          <span class="knob" aria-hidden="true" />
        </button>
        <span class="state">
          {stateText(socket)}
          {socket.assumed && (
            <span class="badge" title="What the daemon last sent: this board does not report its state">
              assumed
            </span>
          )}
        </span>
        {refusal && (
          <span id={reasonId} class="sr-only">
            {refusal}
          </span>
        )}
      </div>
      <p class="meter">
        <span>{watts(socket.watts)}</span> · <span>{amps(socket.currentMa)}</span>
      </p>
      {socket.pending && (
        <section class="pending" aria-live="polite" aria-label={`Work on ${label}`}>
          <p>
            <strong>{socket.pending.direction ?? socket.pending.action}</strong> by{' '}
            {socket.pending.actor.name ?? socket.pending.actor.id} since {clock(socket.pending.since)}
            {socket.pending.requests > 1 && ` (${socket.pending.requests} requests)`}
          </p>
          <Steps steps={steps} />
          <div class="buttons">
            <button
              type="button"
              disabled={may?.cancel != null}
              title={may?.cancel ?? `Cancel the work on ${label}`}
              onClick={() => run(socket, 'cancel', {})}
            >
              Cancel
            </button>
            {may?.force === null && (
              <button
                type="button"
                class="danger"
                title="Switch off now, skipping the rest of the shutdown steps"
                onClick={() => run(socket, 'off', { ...options(), force: true })}
              >
                Force off
              </button>
            )}
          </div>
        </section>
      )}
      {!socket.pending && steps.length > 0 && (
        <details class="last-run">
          <summary>Last run's steps</summary>
          <Steps steps={steps} />
        </details>
      )}
      <details class="menu">
        <summary>More for {socket.name ?? `socket ${socket.number}`}</summary>
        <label>
          Reason (kept in the audit log)
          <input
            type="text"
            maxLength={200}
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </label>
        <div class="cycle">
          <label>
            Off-time
            <input
              type="text"
              inputMode="text"
              placeholder="default"
              size={8}
              value={offTime}
              onInput={(e) => setOffTime(e.currentTarget.value)}
            />
          </label>
          <button
            type="button"
            disabled={may?.cycle !== null}
            title={may?.cycle ?? `Power-cycle ${label}`}
            onClick={() =>
              run(socket, 'cycle', { ...options(), ...(offTime.trim() ? { offTime: offTime.trim() } : {}) })
            }
          >
            Cycle
          </button>
        </div>
        <div class="buttons">
          <button
            type="button"
            disabled={may?.cancel !== null || !socket.pending}
            title={
              socket.pending
                ? (may?.cancel ?? `Cancel the work on ${label}`)
                : `Nothing is running on ${label}`
            }
            onClick={() => run(socket, 'cancel', {})}
          >
            Cancel work
          </button>
          <button
            type="button"
            disabled={may?.force !== null || socket.on === false}
            title={
              socket.on === false
                ? `${label} is off`
                : (may?.force ?? `Switch ${label} off, skipping its shutdown steps`)
            }
            onClick={() => run(socket, 'off', { ...options(), force: true })}
          >
            Force off
          </button>
          <button type="button" aria-pressed={chart} onClick={() => setChart(!chart)}>
            {chart ? 'Hide' : 'Show'} power chart
          </button>
        </div>
      </details>
      {chart && <PowerChart history={history} series={socket.number} version={version} title={`${label}`} />}
    </article>
  );
});

/** The page's clock while something runs (the elapsed time of a running step), still otherwise. */
function useClock(running: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!running) return;
    const tick = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(tick);
  }, [running]);
  return now;
}

function Steps({ steps }: { steps: StepReport[] }) {
  const now = useClock(steps.some((step) => step.status === 'running'));
  if (steps.length === 0) return null;
  return (
    <ol class="steps">
      {steps.map((step) => {
        const elapsed =
          step.durationMs ?? (step.startedAt ? Math.max(0, now - Date.parse(step.startedAt)) : null);
        return (
          <li key={`${step.phase}-${step.index}`} class={`step ${step.status}`} data-status={step.status}>
            <span class="step-name">
              {step.phase} {step.index}/{step.total}: {step.label}
            </span>{' '}
            <span class="step-result">{step.status}</span>
            {elapsed !== null && <span class="step-time"> {seconds(elapsed)}</span>}
            {step.error && <span class="step-error"> — {step.error.message}</span>}
            {!step.error && step.summary && <span class="step-summary"> — {step.summary}</span>}
          </li>
        );
      })}
    </ol>
  );
}
