// The OpenFlow 1.4 bundle messages as OVS accepts them over OpenFlow 1.3:
// experimenter messages of the ONF (0x4f4e4600), ONFT_BUNDLE_CONTROL (2300)
// and ONFT_BUNDLE_ADD_MESSAGE (2301), with the OF1.4 layouts.
import { Reader, Writer } from './header.js';

export const ONF_EXPERIMENTER_ID = 0x4f4e4600;
export const ONFT_BUNDLE_CONTROL = 2300;
export const ONFT_BUNDLE_ADD_MESSAGE = 2301;

export const OFPBCT = {
  OPEN_REQUEST: 0,
  OPEN_REPLY: 1,
  CLOSE_REQUEST: 2,
  CLOSE_REPLY: 3,
  COMMIT_REQUEST: 4,
  COMMIT_REPLY: 5,
  DISCARD_REQUEST: 6,
  DISCARD_REPLY: 7,
} as const;

/** Bundle flags: apply all or nothing; apply in the order added. */
export const OFPBF = { ATOMIC: 1, ORDERED: 2 } as const;

export interface BundleControl {
  bundleId: number;
  controlType: number;
  flags: number;
  /** Bundle properties (TLVs), kept raw. */
  properties: Uint8Array;
}

/** `message` is the inner message, encoded; the caller decodes it. */
export interface BundleAddRaw {
  bundleId: number;
  flags: number;
  message: Uint8Array;
  properties: Uint8Array;
}

export function encodeBundleControl(w: Writer, b: BundleControl): void {
  w.u32(ONF_EXPERIMENTER_ID).u32(ONFT_BUNDLE_CONTROL).u32(b.bundleId).u16(b.controlType).u16(b.flags).bytes(b.properties);
}

export function decodeBundleControl(r: Reader): BundleControl {
  return { bundleId: r.u32('bundle_id'), controlType: r.u16('bundle type'), flags: r.u16('bundle flags'), properties: r.rest() };
}

export function encodeBundleAdd(w: Writer, b: BundleAddRaw): void {
  w.u32(ONF_EXPERIMENTER_ID).u32(ONFT_BUNDLE_ADD_MESSAGE).u32(b.bundleId).zeros(2).u16(b.flags).bytes(b.message);
  if (b.properties.length > 0) w.pad8().bytes(b.properties);
}

export function decodeBundleAdd(r: Reader): { bundleId: number; flags: number; message: Reader; properties: Uint8Array } {
  const bundleId = r.u32('bundle_id');
  r.skip(2);
  const flags = r.u16('bundle flags');
  const at = r.pos;
  r.need(4, 'bundled message header');
  const len = (r.buf[at + 2]! << 8) | r.buf[at + 3]!;
  if (len < 8) r.fail(`bundled message length ${len}`, at + 2);
  const message = r.sub(len, 'bundled message');
  r.skip(Math.min(r.remaining, (8 - (len % 8)) % 8));
  return { bundleId, flags, message, properties: r.rest() };
}
