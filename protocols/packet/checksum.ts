/**
 * The 16-bit ones' complement sum of RFC 1071, not yet complemented, folded
 * into 16 bits. `initial` carries a previous partial sum (a pseudo-header).
 */
export function onesComplementSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length & 1) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The Internet checksum (RFC 1071) of the bytes, ready to put on the wire. */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  return ~onesComplementSum(bytes, initial) & 0xffff;
}
