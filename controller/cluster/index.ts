/** Controller cluster membership: leader election, segment store registrations and load reports, container placement. */
export { LeaderElection, leaderKey, leaderLeaseMsMax, leaderLeaseMsMin, readLeader, type LeaderElectionOptions, type LeaderRecord } from "./leader-election.js";
export {
  encodeLoadReport,
  loadKey,
  loadPrefix,
  Membership,
  reportStaleMsDefault,
  storeKey,
  storesPrefix,
  validateLoadReport,
  type MembershipOptions,
  type StoreEndpoint,
} from "./membership.js";
export { planAssignments, PlacementLoop, placementIntervalMsDefault, type LiveStores, type PlacementLoopOptions } from "./placement.js";
