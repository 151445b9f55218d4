/**
 * A load thread of bench:ledger (worker_threads): its own client and HTTP/2 connection, running
 * startLoad (./ledger-load.ts) with its share of the case's concurrency. Messages: it posts
 * "ready" once started; on "measure" it starts counting; on "stop" it ends its loops and posts
 * its tally (the histogram as compressed base64), then closes its client.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as hdr from "hdr-histogram-js";
import { ledgerClient, type ClientKind } from "./ledger-client.ts";
import { startLoad, type LoadSpec } from "./ledger-load.ts";

const port = parentPort;
if (!port) throw new Error("ledger-load-thread.ts runs only as a worker thread");
const { target, clientKind, spec } = workerData as { target: string; clientKind: ClientKind; spec: LoadSpec };
const client = ledgerClient(target, clientKind);
const load = startLoad(client.createTransfers, spec);
port.on("message", (message: string) => {
  if (message === "measure") load.measure();
  else if (message === "stop") {
    void load.stop().then((tally) => {
      client.close();
      port.postMessage({ ...tally, histogram: hdr.encodeIntoCompressedBase64(tally.histogram) });
      port.close();
    });
  }
});
port.postMessage("ready");
