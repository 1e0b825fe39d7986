// Loads the captures of test/fixtures/ovsdb (see capture.sh there).
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export interface Captured {
  conn: number;
  dir: 'c2s' | 's2c';
  text: string;
  value: unknown;
}

// Compiled tests run from dist/test/unit/ovsdb; the fixtures stay in the source tree.
export const fixtureDir = fileURLToPath(new URL('../../../../test/fixtures/ovsdb/', import.meta.url));

export function captureNames(): string[] {
  return readdirSync(fixtureDir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => f.slice(0, -'.jsonl'.length))
    .sort();
}

export function loadCapture(name: string): Captured[] {
  return readFileSync(join(fixtureDir, `${name}.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const r = JSON.parse(l) as Omit<Captured, 'value'>;
      return { ...r, value: JSON.parse(r.text) };
    });
}

export function allCaptured(): Captured[] {
  return captureNames().flatMap(loadCapture);
}

/** Each connection's byte stream in one direction, as the peer received it. */
export function streams(name: string): { key: string; bytes: Buffer; values: unknown[] }[] {
  const byKey = new Map<string, Captured[]>();
  for (const m of loadCapture(name)) {
    const key = `${name}#${m.conn}.${m.dir}`;
    byKey.set(key, [...(byKey.get(key) ?? []), m]);
  }
  return [...byKey].map(([key, ms]) => ({
    key,
    bytes: Buffer.from(ms.map((m) => m.text).join(''), 'utf8'),
    values: ms.map((m) => m.value),
  }));
}

/** The Open_vSwitch schema exactly as ovsdb-server sent it. */
export function capturedSchemaJson(): unknown {
  const reply = loadCapture('list-dbs-get-schema').find(
    (m) => m.dir === 's2c' && (m.value as { result?: { name?: string } }).result?.name === 'Open_vSwitch',
  );
  return (reply!.value as { result: unknown }).result;
}
