// React keys for the items of an editable list whose items have no ids, so
// that moving an item moves its DOM (and focus) with it.
import { useRef } from "react";

let counter = 0;
const fresh = () => `k${++counter}`;

export interface StableKeys {
  keys: string[];
  add(): string;
  remove(index: number): void;
  move(from: number, to: number): void;
}

export function useStableKeys(length: number): StableKeys {
  const ref = useRef<string[]>([]);
  // A list changed from outside (reloaded, discarded) gets keys again where needed.
  if (ref.current.length !== length) {
    ref.current = Array.from({ length }, (_, i) => ref.current[i] ?? fresh());
  }
  return {
    keys: ref.current,
    add() {
      const key = fresh();
      ref.current = [...ref.current, key];
      return key;
    },
    remove(index) {
      ref.current = ref.current.filter((_, i) => i !== index);
    },
    move(from, to) {
      const next = [...ref.current];
      const [item] = next.splice(from, 1);
      next.splice(to, 0, item);
      ref.current = next;
    },
  };
}
