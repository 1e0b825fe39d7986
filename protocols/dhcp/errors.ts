import { PacketDecodeError, PacketEncodeError } from '../packet/errors.js';

/** A malformed DHCP message; `offset` is within the BOOTP payload (UDP payload). */
export class DhcpDecodeError extends PacketDecodeError {
  override readonly name = 'DhcpDecodeError';
  constructor(offset: number, reason: string) {
    super('dhcp', offset, reason);
  }
}

export class DhcpEncodeError extends PacketEncodeError {
  override readonly name = 'DhcpEncodeError';
  constructor(field: string, reason: string) {
    super('dhcp', field, reason);
  }
}
