import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiFailure, api } from './api.js';
import { AuditView } from './audit.js';
import { PowerChart } from './chart.js';
import { type Confirmation, ConfirmDialog } from './dialogs.js';
import { clock, socketLabel, watts } from './format.js';
import { type HistoryAnswer, PowerHistory } from './history.js';
import { type LiveEvent, LiveStream } from './live.js';
import { SignIn } from './sign-in.js';
import { type ActionOptions, type SocketAction, SocketCard } from './socket-card.js';
import type { DashboardView, PendingWork, Session, SocketInfo, StepReport } from './types.js';

interface Notice {
  id: number;
  text: string;
  kind: 'error' | 'info';
}

type Live = { state: 'connecting' } | { state: 'live' } | { state: 'stale'; since: number };

const NO_SESSION_ROUTE: Session = { user: null, role: null, via: 'loopback' };
const NO_STEPS: StepReport[] = [];
let noticeIds = 0;
let sessionRoute = true;
let gridMarked = false;

/** The whole page: loads the view, follows the event stream, sends what the user asks, says what failed. */
export function App() {
  const [view, setView] = useState<DashboardView | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [signIn, setSignIn] = useState<string | null>(null);
  const [live, setLive] = useState<Live>({ state: 'connecting' });
  const [steps, setSteps] = useState<Record<number, StepReport[]>>({});
  const [notices, setNotices] = useState<Notice[]>([]);
  const [ask, setAsk] = useState<Confirmation | null>(null);
  const [version, setVersion] = useState(0);
  const [auditRefresh, setAuditRefresh] = useState(0);
  const history = useMemo(() => new PowerHistory(), []);
  const viewRef = useRef<DashboardView | null>(null);
  viewRef.current = view;

  const notify = useCallback((text: string, kind: Notice['kind'] = 'error') => {
    const id = ++noticeIds;
    setNotices((list) => [...list.slice(-4), { id, text, kind }]);
  }, []);

  /** The stream, once the page may read: started after a successful load, stopped when signed out. */
  const streamRef = useRef<LiveStream | null>(null);

  /**
   * Reads the session and the view. Without a role (401/403) it shows the
   * sign-in form and lets go of the stream (a stream refused again and again
   * would fill the audit log). `quiet`: a daemon that cannot be reached is
   * not reported again (the stale banner says it).
   */
  const load = useCallback(
    async (quiet = false) => {
      const [sessionAnswer, viewAnswer] = await Promise.allSettled([
        // A daemon without password accounts has no session route: asked once.
        sessionRoute ? api<Session>('GET', '/api/v1/session') : Promise.resolve(NO_SESSION_ROUTE),
        api<DashboardView>('GET', '/api/v1/dashboard'),
      ]);
      if (sessionAnswer.status === 'fulfilled') setSession(sessionAnswer.value);
      else if (sessionAnswer.reason instanceof ApiFailure && sessionAnswer.reason.status === 404) {
        sessionRoute = false;
        setSession(NO_SESSION_ROUTE);
      }
      if (viewAnswer.status === 'fulfilled') {
        setView(viewAnswer.value);
        setSignIn(null);
        return true;
      }
      const failure = viewAnswer.reason;
      if (failure instanceof ApiFailure && (failure.status === 401 || failure.status === 403)) {
        streamRef.current?.stop();
        setView(null);
        setSignIn(
          failure.status === 401
            ? 'Sign in to see the PDU.'
            : `This connection has no PiPDU role (${failure.message}). Sign in with a password account.`,
        );
        return false;
      }
      if (!(quiet && failure instanceof ApiFailure && failure.code === 'NETWORK'))
        notify(failure instanceof Error ? failure.message : String(failure));
      return false;
    },
    [notify],
  );

  /** Loads, then follows the stream if the page may read and is in view; then the stored history. */
  const begin = useCallback(async () => {
    const readable = await load();
    if (readable && document.visibilityState !== 'hidden') streamRef.current?.start();
    if (readable && !history.stored) {
      // The last 6 hours the daemon kept (a daemon without history answers an error: the
      // charts then start when the page was opened).
      const series = ['total', ...Array.from({ length: 16 }, (_, i) => String(i + 1))].join(',');
      try {
        history.seed(await api<HistoryAnswer>('GET', `/api/v1/history?socket=${series}&from=6h`));
        setVersion(history.version);
      } catch {}
    }
  }, [load, history]);

  const onEvent = useCallback(
    (name: LiveEvent, data: unknown) => {
      const replace = (sockets: SocketInfo[]) =>
        setView((current) => {
          if (!current) return current;
          const byNumber = new Map(sockets.map((s) => [s.number, s]));
          const next = current.status.sockets.map((s) => byNumber.get(s.number) ?? s);
          return { ...current, status: { ...current.status, sockets: next } };
        });
      switch (name) {
        case 'socketChanged':
          replace([(data as { socket: SocketInfo }).socket]);
          break;
        case 'pending': {
          const { socket, pending } = data as { socket: SocketInfo; pending: PendingWork | null };
          const before = viewRef.current?.status.sockets.find((s) => s.number === socket.number);
          // New work starts with an empty list of steps; finished work keeps its steps shown.
          if (pending && !before?.pending) setSteps((all) => ({ ...all, [socket.number]: [] }));
          replace([socket]);
          break;
        }
        case 'step': {
          const { socket, step } = data as { socket: SocketInfo; step: StepReport };
          setSteps((all) => {
            const list = (all[socket.number] ?? []).filter(
              (s) => !(s.phase === step.phase && s.index === step.index),
            );
            return { ...all, [socket.number]: [...list, step] };
          });
          replace([socket]);
          break;
        }
        case 'telemetry': {
          const { sockets, totalWatts } = data as { sockets: SocketInfo[]; totalWatts: number };
          history.add(Date.now(), sockets, totalWatts);
          setVersion(history.version);
          replace(sockets);
          setView((current) => current && { ...current, status: { ...current.status, totalWatts } });
          break;
        }
        case 'boardOffline':
          setView(
            (current) =>
              current && {
                ...current,
                status: { ...current.status, board: { ...current.status.board, online: false } },
                board: {
                  ...current.board,
                  offlineSince: current.board.offlineSince ?? new Date().toISOString(),
                },
              },
          );
          break;
        case 'boardOnline':
        case 'boardReset':
          // The states may all have changed: read everything again.
          void load();
          break;
      }
    },
    [history, load],
  );

  useEffect(() => {
    const stream = new LiveStream('/api/v1/events?telemetry=1', {
      // Events may have been missed while disconnected: read everything again.
      open: () => {
        setLive({ state: 'live' });
        void load(true);
      },
      // Lost: the daemon may be gone (the stream retries), or the session ended (load says so).
      lost: () => {
        setLive((current) => (current.state === 'stale' ? current : { state: 'stale', since: Date.now() }));
        void load(true);
      },
      event: onEvent,
    });
    streamRef.current = stream;
    void begin();
    // A hidden tab lets go of its stream: browsers allow six HTTP/1.1 connections per host, and
    // tabs left open in the background would use them up. Back in view, it reconnects and re-reads.
    const visibility = (): void => {
      if (document.visibilityState === 'hidden') {
        stream.stop();
        setLive({ state: 'connecting' });
      } else if (viewRef.current) {
        stream.start();
      }
    };
    document.addEventListener('visibilitychange', visibility);
    return () => {
      document.removeEventListener('visibilitychange', visibility);
      stream.stop();
    };
  }, [load, begin, onEvent]);

  const send = useCallback(
    async (socket: SocketInfo | 'all', action: SocketAction, options: ActionOptions) => {
      const id = socket === 'all' ? 'all' : String(socket.number);
      try {
        await api(
          'POST',
          `/api/v1/sockets/${id}/${action}`,
          Object.keys(options).length ? options : undefined,
        );
        if (action === 'cancel')
          notify(`Cancelled the work on ${socket === 'all' ? 'all' : socketLabel(socket)}.`, 'info');
      } catch (failure) {
        notify(
          describeFailure(failure, socket === 'all' ? null : currentSocket(viewRef.current, socket.number)),
        );
        if (failure instanceof ApiFailure && failure.status === 401) void load();
      } finally {
        setAuditRefresh((n) => n + 1);
      }
    },
    [load, notify],
  );

  const run = useCallback(
    (socket: SocketInfo, action: SocketAction, options: ActionOptions) => {
      const endsOff = action === 'off' || action === 'cycle';
      if (socket.protected && endsOff) {
        const typed = socket.name ?? String(socket.number);
        setAsk({
          title: `${action === 'cycle' ? 'Power-cycle' : 'Switch off'} protected ${socketLabel(socket)}?`,
          text: `${socketLabel(socket)} is protected: whatever it powers goes down${action === 'cycle' ? ' for the off-time' : ''}.`,
          typed,
          confirmLabel: action === 'cycle' ? 'Power-cycle it' : 'Switch it off',
          accept: () => void send(socket, action, options),
        });
        return;
      }
      void send(socket, action, options);
    },
    [send],
  );

  const allOff = () =>
    setAsk({
      title: 'Switch every socket off?',
      text: 'Every socket that is not protected goes off (protected ones stay on).',
      typed: null,
      confirmLabel: 'Switch all off',
      accept: () => void send('all', 'off', {}),
    });

  const signOut = async () => {
    try {
      await api('DELETE', '/api/v1/session');
    } catch (failure) {
      notify(describeFailure(failure, null));
    }
    streamRef.current?.stop();
    setView(null);
    setSession(null);
    setSignIn('Signed out.');
  };

  if (signIn !== null && view === null) {
    return (
      <div class="page">
        <Masthead title="PiPDU" />
        <SignIn why={signIn} done={() => void begin()} />
        <Notices notices={notices} dismiss={(id) => setNotices((l) => l.filter((n) => n.id !== id))} />
      </div>
    );
  }
  if (!view) {
    return (
      <div class="page">
        <Masthead title="PiPDU" />
        <p class="loading">Loading…</p>
        <Notices notices={notices} dismiss={(id) => setNotices((l) => l.filter((n) => n.id !== id))} />
      </div>
    );
  }

  const { status, may } = view;
  if (!gridMarked) {
    gridMarked = true;
    // After this render is on screen: what the benchmark reads (navigation start → the grid).
    requestAnimationFrame(() => performance.mark('pipdu:grid'));
  }
  const role = view.you.role ?? session?.role ?? null;
  return (
    <div class="page">
      <Masthead title={status.name}>
        <span class="who">
          {session?.via === 'password' && session.user ? `Signed in as ${session.user}` : view.you.actor} ·{' '}
          {role ?? 'role unknown'}
        </span>
        {session?.via === 'password' && (
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        )}
      </Masthead>
      <section class="status" aria-label="Board status">
        <BoardState view={view} />
        <p class="total">
          Total <strong>{watts(status.totalWatts)}</strong> at {status.mainsVoltage} V
        </p>
        <LiveState live={live} />
        <div class="buttons">
          {may.allOn === null && (
            <button type="button" onClick={() => void send('all', 'on', {})}>
              All on
            </button>
          )}
          {may.allOff === null && (
            <button type="button" class="danger" onClick={allOff}>
              All off…
            </button>
          )}
        </div>
      </section>
      <Notices notices={notices} dismiss={(id) => setNotices((l) => l.filter((n) => n.id !== id))} />
      <PowerChart history={history} series="total" version={version} title="PDU power" />
      <h2 class="sr-only">Sockets</h2>
      <div class="grid">
        {status.sockets.map((socket) => (
          <SocketCard
            key={socket.number}
            socket={socket}
            may={may.sockets.find((m) => m.number === socket.number)}
            steps={steps[socket.number] ?? NO_STEPS}
            history={history}
            version={version}
            run={run}
          />
        ))}
      </div>
      {may.audit === null && <AuditView refresh={auditRefresh} />}
      {ask && <ConfirmDialog ask={ask} close={() => setAsk(null)} />}
    </div>
  );
}

function Masthead({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <header class="masthead">
      <h1>{title}</h1>
      <div class="masthead-side">{children}</div>
    </header>
  );
}

function BoardState({ view }: { view: DashboardView }) {
  const { board } = view.status;
  return (
    <div class="board">
      {board.online ? (
        <p class="online">
          Board online <span class="muted">({board.driver})</span>
        </p>
      ) : (
        <p class="banner offline" role="alert">
          The relay board is offline
          {view.board.offlineSince ? ` since ${clock(view.board.offlineSince)}` : ''}: sockets cannot be
          switched until it is back.
        </p>
      )}
      {view.board.lastReset && (
        <p class="banner reset" role="status">
          Board reset detected at {clock(view.board.lastReset)}: sockets were restored by their restore
          policy.
        </p>
      )}
      {!board.reportsState && (
        <p class="banner assumed">
          This board does not report its state: what is shown is what PiPDU last sent (assumed).
        </p>
      )}
    </div>
  );
}

function LiveState({ live }: { live: Live }) {
  if (live.state === 'live') return <p class="live">Live</p>;
  if (live.state === 'connecting') return <p class="live">Connecting…</p>;
  return (
    <p class="banner stale" role="alert">
      Live updates lost at {clock(live.since)}; reconnecting. What you see may be stale.
    </p>
  );
}

function Notices({ notices, dismiss }: { notices: Notice[]; dismiss(id: number): void }) {
  return (
    <div class="notices" role="alert" aria-live="assertive">
      {notices.map((notice) => (
        <p key={notice.id} class={`notice ${notice.kind}`}>
          <span>{notice.text}</span>
          <button type="button" aria-label="Dismiss" onClick={() => dismiss(notice.id)}>
            ×
          </button>
        </p>
      ))}
    </div>
  );
}

function currentSocket(view: DashboardView | null, number: number): SocketInfo | null {
  return view?.status.sockets.find((s) => s.number === number) ?? null;
}

/** The service's refusal in words: what is pending and since when, which role is needed, the board's state. */
export function describeFailure(failure: unknown, socket: SocketInfo | null): string {
  if (!(failure instanceof ApiFailure)) return String(failure);
  const what = socket ? `${socketLabel(socket)}: ` : '';
  switch (failure.code) {
    case 'BUSY': {
      const pending = socket?.pending;
      const detail = pending
        ? ` (pending: ${pending.direction ?? pending.action} by ${pending.actor.name ?? pending.actor.id} since ${clock(pending.since)})`
        : '';
      return `Busy — ${what}${failure.message}${detail}`;
    }
    case 'FORBIDDEN':
      return `Not allowed — ${failure.message}`;
    case 'BOARD_OFFLINE':
    case 'BOARD_TIMEOUT':
      return `The relay board is offline — ${what}${failure.message}`;
    case 'NEEDS_CONFIRMATION':
      return `Needs confirmation — ${failure.message}`;
    default:
      return `${what}${failure.message}`;
  }
}
