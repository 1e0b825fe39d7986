// Raw Ethernet frames sent from inside a VM namespace (AF_PACKET), for what
// ping and the DHCP clients cannot send: spoofed sources, arbitrary
// ethertypes, malformed DHCP.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Vm } from '../harness/lab.js';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const SEND_PY = `import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
`;

export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

const macBytes = (mac: string): Buffer => Buffer.from(mac.split(':').join(''), 'hex');

/** An Ethernet II frame, padded to the 60-byte minimum. */
export function ethernet(dst: string, src: string, ethertype: number, payload: Buffer): Buffer {
  const type = Buffer.alloc(2);
  type.writeUInt16BE(ethertype);
  const frame = Buffer.concat([macBytes(dst), macBytes(src), type, payload]);
  return frame.length >= 60 ? frame : Buffer.concat([frame, Buffer.alloc(60 - frame.length)]);
}

/** An ARP request (who-has `target` tell `senderIp`) from `src`. */
export function arpRequest(src: string, senderIp: string, target: string): Buffer {
  const ip = (a: string) => Buffer.from(a.split('.').map(Number));
  const body = Buffer.concat([
    Buffer.from([0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]),
    macBytes(src),
    ip(senderIp),
    Buffer.alloc(6),
    ip(target),
  ]);
  return ethernet(BROADCAST, src, 0x0806, body);
}

/** Sends the frames, in order, out of the VM's eth0. */
export async function sendFrames(vm: Vm, frames: Buffer[]): Promise<void> {
  const script = join(vm.lab.dir, 'send-frames.py');
  if (!existsSync(script)) writeFileSync(script, SEND_PY);
  await vm.exec(PYTHON, ['-I', '-S', script, 'eth0', ...frames.map((f) => f.toString('hex'))]);
}
