// The golden vectors: messages that `ovs-ofctl -O OpenFlow13` sent to a
// switch, captured by test/fixtures/openflow/capture-all.sh.
import { readFileSync } from 'node:fs';

export interface GoldenCase {
  name: string;
  args: string[];
  messages: string[];
}

export const golden: GoldenCase[] = JSON.parse(readFileSync(new URL('../../../../test/fixtures/openflow/golden.json', import.meta.url), 'utf8'));

export function goldenCase(name: string): GoldenCase {
  const c = golden.find((g) => g.name === name);
  if (!c) throw new Error(`no golden case ${name}`);
  return c;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function bytes(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}
