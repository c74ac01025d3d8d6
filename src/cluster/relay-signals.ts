// Carries chosen in-process signals to the other processes on the database and back, through the cluster session.
import type { EventEmitter } from 'node:events';
import type { ClusterSession } from './cluster-session.ts';

/**
 * A signal relayed between processes. Its arguments travel as a short text: `encode` makes it, and the texts sent in
 * one turn of the event loop arrive joined by commas, which `decode` turns back into the emissions to make here.
 */
export interface RelayedSignal {
  name: string;
  encode(args: readonly unknown[]): string;
  decode(payload: string): unknown[][];
}

/** A signal without arguments (`inbox-stored`). */
export function plainSignal(name: string): RelayedSignal {
  return { name, encode: () => '', decode: () => [[]] };
}

/** A signal whose one argument is a list of numeric ids (`events-appended`): one emission with every id received. */
export function idListSignal(name: string): RelayedSignal {
  return {
    name,
    encode: (args) => (args[0] as readonly number[]).join(','),
    decode: (payload) => [[payload.split(',').filter(Boolean).map(Number)]],
  };
}

/** A signal whose one argument is one id (`webhook-changed`): one emission per id received (one with '' when cut). */
export function idSignal(name: string): RelayedSignal {
  return {
    name,
    encode: (args) => String(args[0] ?? ''),
    decode: (payload) => {
      const ids = [...new Set(payload.split(',').filter(Boolean))];
      return ids.length > 0 ? ids.map((id) => [id]) : [['']];
    },
  };
}

/**
 * Sends every local emission of the chosen signals to the other processes, and emits theirs here. A signal received
 * from another process is not sent on again. Returns a function that stops relaying.
 */
export function relaySignals(signals: EventEmitter, session: ClusterSession, relayed: readonly RelayedSignal[]): () => void {
  let receiving = false;
  const stops: (() => void)[] = [];
  for (const signal of relayed) {
    const send = (...args: unknown[]) => {
      if (!receiving) session.wake(signal.name, signal.encode(args));
    };
    signals.on(signal.name, send);
    stops.push(() => signals.off(signal.name, send));
  }
  stops.push(
    session.onWakeUp((channel, payload) => {
      const signal = relayed.find((candidate) => candidate.name === channel);
      if (!signal) return;
      receiving = true;
      try {
        for (const args of signal.decode(payload)) signals.emit(signal.name, ...args);
      } finally {
        receiving = false;
      }
    }),
  );
  return () => {
    for (const stop of stops) stop();
  };
}
