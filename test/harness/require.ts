// Tests that need root or Open vSwitch skip outside CI, saying why, and fail
// in CI (CI=1/true), where nothing may be skipped.
import { execFileSync } from 'node:child_process';

export const inCI = ['1', 'true'].includes((process.env.CI ?? '').toLowerCase());

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the requirements are not met, or undefined when they are. */
export function missing(needs: { root?: boolean; commands?: string[] }): string | undefined {
  if (needs.root && process.getuid?.() !== 0) return 'needs root';
  for (const cmd of needs.commands ?? []) if (!hasCommand(cmd)) return `needs ${cmd}`;
  return undefined;
}

/**
 * The options for `t.test(name, requirement(...), fn)`: `{ skip: reason }`
 * outside CI when something is missing; in CI, a missing requirement throws
 * so the run fails instead of silently skipping.
 */
export function requirement(needs: { root?: boolean; commands?: string[] }): { skip?: string } {
  const why = missing(needs);
  if (!why) return {};
  if (inCI) throw new Error(`required in CI: ${why}`);
  return { skip: why };
}

export const OVS = { commands: ['ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ovsdb-tool'] };
export const LAB = { root: true, commands: [...OVS.commands, 'ip'] };
