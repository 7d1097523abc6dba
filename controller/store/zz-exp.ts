import { startEtcd } from "./etcd-server.js";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
const d = mkdtempSync("/tmp/bad-");
mkdirSync(d + "/member");
writeFileSync(d + "/member/wal", "garbage");
try { await startEtcd({ dataDir: d }); } catch (e) { console.log(String(e).slice(0, 300), "...", String(e).slice(-300)); }
