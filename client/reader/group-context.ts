/** What an EventReader uses of its ReaderGroup (kept apart so the two files do not import each other). */
import type { Clock } from "../../common/index.js";
import type { GroupLookups, ReaderGroupServices } from "./group-lookups.js";
import type { GroupState } from "./group-state.js";
import type { StateSynchronizer } from "./state-synchronizer.js";

export interface GroupContext {
  /** `scope/group`, for messages. */
  readonly name: string;
  readonly sync: StateSynchronizer<GroupState>;
  readonly lookups: GroupLookups;
  readonly services: ReaderGroupServices;
  readonly clock: Clock;
  /** The group object was closed (its readers leave without touching the state again). */
  closed(): boolean;
  /** The latest state. Raises NO_SUCH_READER_GROUP once the group is deleted, CLOSED once it is closed. */
  state(): GroupState;
  /** A reader closed: the group stops tracking it. */
  forget(reader: { readonly id: string }): void;
}
