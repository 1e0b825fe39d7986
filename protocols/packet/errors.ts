/** The protocol layer a codec error belongs to. */
export type PacketLayer = 'ethernet' | 'vlan' | 'arp' | 'ipv4' | 'udp' | 'dhcp';

/**
 * The only error a decoder in `protocols/` throws. `offset` is the byte
 * offset, in the buffer handed to the outermost decoder, of the field that
 * made the input unacceptable.
 */
export class PacketDecodeError extends Error {
  override readonly name: string = 'PacketDecodeError';
  constructor(
    readonly layer: PacketLayer,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${layer}: ${reason} at offset ${offset}`);
  }
}

/** Thrown by an encoder handed a value that has no wire form. */
export class PacketEncodeError extends Error {
  override readonly name: string = 'PacketEncodeError';
  constructor(
    readonly layer: PacketLayer,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${layer}: cannot encode ${field}: ${reason}`);
  }
}

/** Runs a decoder and returns its result or its typed error, never throwing. */
export function tryDecode<T>(decode: () => T): { ok: true; value: T } | { ok: false; error: PacketDecodeError } {
  try {
    return { ok: true, value: decode() };
  } catch (error) {
    if (error instanceof PacketDecodeError) return { ok: false, error };
    throw error;
  }
}
