/**
 * Transport port numbers shared by TCP and UDP: the 16-bit port space and
 * the IANA dynamic (ephemeral) range (RFC 6335 §6), from which both
 * transports pick local ports.
 *
 * @module
 */

/** Largest port number (a 16-bit field, RFC 9293 §3.1, RFC 768). */
export const PORT_MAX = 65_535;
/** First port of the IANA dynamic/ephemeral range (RFC 6335 §6). */
export const EPHEMERAL_PORT_FIRST = 49_152;
/** Last port of the ephemeral range (RFC 6335 §6). */
export const EPHEMERAL_PORT_LAST = 65_535;
