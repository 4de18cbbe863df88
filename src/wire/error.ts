/**
 * Typed parse failures shared by every codec in `src/wire/`.
 *
 * Parsers never throw on hostile input (DESIGN.md rule 4): they return a
 * {@link WireError} that names the protocol and the defect instead.
 *
 * @module
 */

/** The defect a parser found in its input. */
export type WireErrorKind =
  | "truncated"
  | "bad-version"
  | "bad-header-length"
  | "bad-total-length"
  | "bad-checksum"
  | "bad-option"
  | "bad-data-offset"
  | "bad-length"
  | "bad-pointer"
  | "pointer-loop"
  | "name-too-long"
  | "label-too-long"
  | "bad-field"
  | "unsupported";

/**
 * A typed parse failure: which protocol, which defect, and a human-readable
 * explanation. Returned, never thrown, by every `parse` in `src/wire/`.
 *
 * @example
 * ```ts
 * import { WireError } from "./error.ts";
 * const e = new WireError("ipv4", "bad-header-length", "IHL 4 < 5");
 * console.assert(e.kind === "bad-header-length");
 * console.assert(String(e) === "ipv4: bad-header-length: IHL 4 < 5");
 * ```
 */
export class WireError {
  /**
   * Describes one parse failure.
   *
   * @param protocol the codec that rejected the input, e.g. `"ipv4"`
   * @param kind the defect
   * @param message details (the offending value, the limit)
   */
  constructor(
    readonly protocol: string,
    readonly kind: WireErrorKind,
    readonly message: string,
  ) {}

  /** Formats as `protocol: kind: message`. */
  toString(): string {
    return `${this.protocol}: ${this.kind}: ${this.message}`;
  }
}

/**
 * Narrows a parse result to the failure case.
 *
 * @param value whatever a `parse` returned
 * @returns true when `value` is a {@link WireError}
 *
 * @example
 * ```ts
 * import { isWireError, WireError } from "./error.ts";
 * console.assert(isWireError(new WireError("udp", "truncated", "3 < 8")));
 * console.assert(!isWireError({ srcPort: 1 }));
 * ```
 */
export function isWireError(value: unknown): value is WireError {
  return value instanceof WireError;
}
