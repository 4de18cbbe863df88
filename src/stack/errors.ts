/**
 * {@link StackClosedError}, the error of every call on a closed {@link Stack}
 * and of every operation still pending when it closes.
 *
 * @module
 */

/**
 * Raised by calls on a closed stack and by pending operations when it closes.
 *
 * @example
 * ```ts
 * import { MemoryLink, Stack, StackClosedError } from "../../mod.ts";
 * const [a] = MemoryLink.pair();
 * const stack = new Stack({ device: a, ipv4: "192.0.2.2/24" });
 * await stack.start();
 * await stack.close();
 * try {
 *   stack.listenDatagram({ port: 7 });
 * } catch (e) {
 *   console.assert(e instanceof StackClosedError);
 * }
 * ```
 */
export class StackClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param what the operation
   */
  constructor(what: string) {
    super(`${what}: the stack is closed`);
    this.name = "StackClosedError";
  }
}
