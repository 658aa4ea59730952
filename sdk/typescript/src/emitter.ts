/** A tiny typed event emitter (browser-safe, no dependencies). */

/** Event names mapped to their listeners' argument lists. */
export type EventMap = { [event: string]: unknown[] };

/** A listener of event `K`. */
export type Listener<M extends EventMap, K extends keyof M> = (...args: M[K]) => void;

/**
 * Listeners by event. A throwing listener does not stop the others; its
 * error goes to `onListenerError`.
 */
export class Emitter<M extends EventMap> {
  readonly #listeners = new Map<keyof M, Set<(...args: never[]) => void>>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof M>(event: K, listener: Listener<M, K>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as unknown as (...args: never[]) => void);
    return () => this.off(event, listener);
  }

  /** Adds a listener called at most once; returns a function that removes it. */
  once<K extends keyof M>(event: K, listener: Listener<M, K>): () => void {
    const off = this.on(event, ((...args: M[K]) => {
      off();
      listener(...args);
    }) as Listener<M, K>);
    return off;
  }

  /** Removes a listener. */
  off<K extends keyof M>(event: K, listener: Listener<M, K>): void {
    this.#listeners.get(event)?.delete(listener as unknown as (...args: never[]) => void);
  }

  /** Calls every listener of `event` with `args`. */
  emit<K extends keyof M>(event: K, ...args: M[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) {
      return;
    }
    for (const listener of [...set]) {
      try {
        (listener as unknown as Listener<M, K>)(...args);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
