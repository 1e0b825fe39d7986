// The table numbers, priorities and metadata layout of weft's pipeline
// (docs/pipeline.md). Gaps between table numbers leave room for stages that
// later issues add (an ARP responder in services, ACLs before lookup)
// without renumbering what switches already hold.

export const TABLE = {
  /** in_port (and tun_id for tunnels) → the network, in metadata. */
  CLASSIFY: 0,
  /** A local port's frames carry its own MAC and IPs only. */
  PORT_SECURITY: 10,
  /** DHCP client and relay agent packets to the controller; rogue DHCP servers dropped. */
  SERVICES: 20,
  /** learn() (network, eth_src) → ingress port into the lookup tables. */
  LEARN: 30,
  /** (network, eth_dst) → port, for frames from a local port. */
  LOOKUP: 40,
  /** (network, eth_dst) → local port only, for frames from a tunnel (split horizon). */
  LOOKUP_FROM_TUNNEL: 41,
  /** Per network: local ports, plus tunnels for frames from a local port. */
  FLOOD: 50,
} as const;
export type TableId = (typeof TABLE)[keyof typeof TABLE];
export const TABLES: readonly TableId[] = Object.values(TABLE);

export const PRIORITY = {
  /** Every table's last resort: drop, so nothing depends on a switch's table-miss default. */
  MISS: 0,
  CLASSIFY: 100,
  /** Frames with a multicast source MAC: never valid, and they would poison learning. */
  MULTICAST_SOURCE: 300,
  /** A port's own addresses (ARP spa, IPv4 source); 0.0.0.0 for probes and DHCP; anything while its addresses are unknown. */
  ADDRESS_ALLOWED: 200,
  /** Any other ARP or IPv4. */
  ADDRESS_DENIED: 150,
  /** Other ethertypes: the MAC, checked by classify, is all that is held. */
  OTHER_ALLOWED: 100,
  DHCP: 200,
  /** A network whose DHCP is the tenant's own: above the DHCP flows. */
  DHCP_EXCEPTION: 250,
  LEARN: 100,
  /** Declared MACs of local ports: above learned entries, so a spoofed claim elsewhere cannot move them. */
  STATIC_MAC: 200,
  LEARNED_MAC: 100,
  FLOOD: 100,
} as const;

/** Seconds of silence after which a learned MAC is forgotten (OVS's default MAC aging). */
export const LEARNED_IDLE_TIMEOUT = 300;

/**
 * metadata[0..23]: the network, as its VNI (unique in the cluster, stable
 * across replicas and restarts, and the key tunnels already carry).
 * metadata[32]: the frame came from a tunnel.
 */
export const METADATA_NETWORK_BITS = 24;
export const METADATA_NETWORK_MASK = (1n << BigInt(METADATA_NETWORK_BITS)) - 1n;
export const METADATA_FROM_TUNNEL_BIT = 32;
export const METADATA_FROM_TUNNEL = 1n << BigInt(METADATA_FROM_TUNNEL_BIT);
/** The bits classification writes; the rest of metadata is left to later stages. */
export const METADATA_MASK = METADATA_NETWORK_MASK | METADATA_FROM_TUNNEL;
