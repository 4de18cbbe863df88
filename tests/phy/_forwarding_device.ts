/**
 * The test wrappers' common base is the stack's own {@link ForwardingDevice}
 * (src/phy/forwarding_device.ts): a probe or recorder extends it and
 * overrides only what it observes or changes, and every other `Device`
 * member (optional ones included) passes through. Re-exported here so the
 * tests' imports stay as they were.
 *
 * @module
 */

export { ForwardingDevice } from "../../src/phy/forwarding_device.ts";
