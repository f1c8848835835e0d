import { useEffect, useRef, useState } from 'preact/hooks';

export interface Confirmation {
  title: string;
  text: string;
  /** The user must type this (a protected socket's name) before confirming; null: a button is enough. */
  typed: string | null;
  confirmLabel: string;
  accept(): void;
}

/** A modal confirmation (native <dialog>: focus trapped, Escape cancels). */
export function ConfirmDialog({ ask, close }: { ask: Confirmation; close(): void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const ready = ask.typed === null || typed.trim() === ask.typed;
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-title" onClose={close}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (!ready) return;
          ask.accept();
          dialog.current?.close();
        }}
      >
        <h2 id="confirm-title">{ask.title}</h2>
        <p>{ask.text}</p>
        {ask.typed !== null && (
          <label>
            Type <strong>{ask.typed}</strong> to confirm
            <input
              type="text"
              autoComplete="off"
              value={typed}
              onInput={(e) => setTyped(e.currentTarget.value)}
            />
          </label>
        )}
        <div class="buttons">
          <button type="button" onClick={() => dialog.current?.close()}>
            Keep it
          </button>
          <button type="submit" class="danger" disabled={!ready}>
            {ask.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
