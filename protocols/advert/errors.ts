/**
 * Why an advert was refused. `malformed`: not an advert of this version, or
 * its structure is broken; `forged`: well framed but its HMAC does not match
 * the shared key (a forgery, a mutation in flight or a peer with another key).
 */
export type AdvertErrorKind = 'malformed' | 'forged';

/**
 * The only error the advert decoders throw. `offset` is the byte offset in
 * the datagram of the field that made it unacceptable.
 */
export class AdvertDecodeError extends Error {
  override readonly name = 'AdvertDecodeError';
  constructor(
    readonly kind: AdvertErrorKind,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`advert ${kind}: ${reason} at offset ${offset}`);
  }
}

/** Thrown by the encoder handed a value that has no wire form. */
export class AdvertEncodeError extends Error {
  override readonly name = 'AdvertEncodeError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`advert: cannot encode ${field}: ${reason}`);
  }
}
