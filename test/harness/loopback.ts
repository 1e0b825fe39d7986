// A fake peer's plumbing for unit tests of a protocol session: both ends of
// one real TCP connection over 127.0.0.1 (the session gets one, the test's
// fake peer the other), and the inbox the fake peer reads what the session
// sent from, in order.
import net, { type Socket } from 'node:net';

/** Both ends of one TCP connection over 127.0.0.1. The listener is closed already: destroying both ends leaves nothing open. */
export async function loopbackPair(): Promise<{ dialled: Socket; accepted: Socket }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const dialled = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => dialled.once('connect', () => r()));
  const socket = await accepted;
  server.close();
  return { dialled, accepted: socket };
}

/** Everything received, in order, and a reader that takes each once, waiting for the next when it has read them all. */
export class Inbox<T> {
  readonly received: T[] = [];
  private read = 0;
  private readonly waiters: ((v: T) => void)[] = [];

  push(v: T): void {
    this.received.push(v);
    const w = this.waiters.shift();
    if (w) {
      this.read++;
      w(v);
    }
  }

  next(): Promise<T> {
    return this.read < this.received.length ? Promise.resolve(this.received[this.read++]!) : new Promise((r) => this.waiters.push(r));
  }
}
