// Replay protection for authenticated adverts, kept out of the codec: a pure
// function of the state so far, the advert and the receiver's clock.
//
// Per sender the receiver keeps the boot epoch it last accepted, the highest
// sequence number of that boot and a window of the 64 below it (as IPsec's
// anti-replay window does), so adverts reordered in flight are still taken
// once each. A larger boot epoch is a restart, whose sequence starts afresh.
// A smaller one is refused as a replay of an earlier boot, except when the
// sender has been silent for longer than the skew bound: a replay cannot be
// that old (its timestamp would be refused), so the sender really restarted
// with a clock that stepped back.
import type { Advert } from './advert.js';

export const REPLAY_WINDOW = 64;
/** The default bound on |sender's timestamp − receiver's clock|. */
export const DEFAULT_MAX_SKEW_MS = 10_000;

export interface SenderState {
  boot: number;
  /** Highest sequence number accepted from this boot. */
  seq: number;
  /** Bit i set: seq − i was accepted (bit 0 is seq itself). */
  window: bigint;
  /** Receiver's clock when the last advert was accepted. */
  acceptedAt: number;
}

export type ReplayState = ReadonlyMap<string, SenderState>;

export type RejectReason = 'replayed' | 'skew' | 'self';

export type Acceptance = { accepted: true; state: ReplayState } | { accepted: false; reason: RejectReason; detail: string };

export interface AcceptOptions {
  maxSkewMs?: number;
  /** The receiver's own replica id: its own adverts looped back are refused. */
  self?: string;
}

const WINDOW_MASK = (1n << BigInt(REPLAY_WINDOW)) - 1n;

function withSender(state: ReplayState, id: string, s: SenderState): ReplayState {
  const next = new Map(state);
  next.set(id, s);
  return next;
}

export function acceptAdvert(state: ReplayState, advert: Advert, now: number, options: AcceptOptions = {}): Acceptance {
  const maxSkew = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  if (options.self !== undefined && advert.replicaId === options.self) {
    return { accepted: false, reason: 'self', detail: 'an advert with our own replica id' };
  }
  if (Math.abs(advert.timestamp - now) > maxSkew) {
    return { accepted: false, reason: 'skew', detail: `timestamp is ${advert.timestamp - now} ms from our clock, more than ${maxSkew}` };
  }
  const fresh: SenderState = { boot: advert.boot, seq: advert.seq, window: 1n, acceptedAt: now };
  const known = state.get(advert.replicaId);
  if (!known || advert.boot > known.boot) return { accepted: true, state: withSender(state, advert.replicaId, fresh) };
  if (advert.boot < known.boot) {
    if (now - known.acceptedAt > maxSkew) return { accepted: true, state: withSender(state, advert.replicaId, fresh) };
    return { accepted: false, reason: 'replayed', detail: `boot ${advert.boot} is older than ${known.boot}` };
  }
  if (advert.seq > known.seq) {
    const shift = advert.seq - known.seq;
    const window = shift >= REPLAY_WINDOW ? 1n : ((known.window << BigInt(shift)) | 1n) & WINDOW_MASK;
    return { accepted: true, state: withSender(state, advert.replicaId, { boot: known.boot, seq: advert.seq, window, acceptedAt: now }) };
  }
  const age = known.seq - advert.seq;
  if (age >= REPLAY_WINDOW) return { accepted: false, reason: 'replayed', detail: `sequence ${advert.seq} is older than the window below ${known.seq}` };
  const bit = 1n << BigInt(age);
  if ((known.window & bit) !== 0n) return { accepted: false, reason: 'replayed', detail: `sequence ${advert.seq} was already accepted` };
  return { accepted: true, state: withSender(state, advert.replicaId, { ...known, window: known.window | bit, acceptedAt: now }) };
}
