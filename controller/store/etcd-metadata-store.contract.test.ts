// Runs the MetadataStore contract suite, unchanged, against a real etcd (Debian etcd-server) started on 127.0.0.1
// with a temporary data dir and stopped by pid. Each test gets its own key namespace; lease time is real time.
import t from "tap";
import { setTimeout as sleep } from "node:timers/promises";
import { EtcdMetadataStore } from "./etcd-metadata-store.js";
import { startEtcd } from "./etcd-server.js";
import { metadataStoreContract } from "./metadata-store.contract.js";

void t.test("contract: etcd", async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  let namespaces = 0;
  metadataStoreContract(t, {
    async open(t) {
      const s = await EtcdMetadataStore.connect(`${etcd.url}/contract-${namespaces++}/`);
      t.teardown(() => s.close());
      return s;
    },
    async passTime(ms) {
      await sleep(ms);
    },
  });
});
