/** Injection tokens of the projections feature (plain symbols: importable without Nest). */
export const PROJECTION_MANAGER = Symbol('PROJECTION_MANAGER');
/** A ProjectionStatusReader bound to this pod's manager (thisPod.isLeader is accurate). */
export const PROJECTION_STATUS = Symbol('PROJECTION_STATUS');
/** ProjectionGauges refreshed on a pod that does not project (null when the manager keeps them). */
export const PROJECTION_GAUGES = Symbol('PROJECTION_GAUGES');
