// Input schemas of the API: the model's schemas, made strict so that a
// misspelt field is refused by name instead of silently dropped.
import { z } from 'zod';
import { Description, DhcpRange, Name, Network, Reservation, Route, Subnet, Vlan, Vni } from '../model/index.js';
import { Revision } from './deps.js';

export const SubnetInput = Subnet.extend({
  ranges: z.array(DhcpRange.strict()).max(64).default([]),
  routes: z.array(Route.strict()).max(32).default([]),
}).strict();

export const Mtu = Network.shape.mtu;

/** A network as callers write it: the VNI defaults to the VLAN tag, the MTU to 1450. */
export const NetworkFields = {
  vlan: Vlan,
  vni: Vni.optional().describe('tunnel key; defaults to the VLAN tag'),
  mtu: Mtu.describe('interface MTU handed out by DHCP; default 1450 (VXLAN on a 1500-byte underlay)'),
  subnets: z.array(SubnetInput).max(16).default([]),
  description: Description.optional(),
};

export const NetworkKey = { tenant: Name, name: Name.describe('network name, unique within the tenant') };

export const NetworkResult = Network.extend({ revision: Revision });
export const ReservationResult = Reservation.extend({ revision: Revision });
