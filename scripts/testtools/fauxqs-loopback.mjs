// Starts the fauxqs SQS emulator on 127.0.0.1 only (its own CLI binds every
// interface). The port comes from the PORT environment variable; SIGTERM
// and SIGINT close the server cleanly. Used by internal/testserver.
import { buildApp } from "fauxqs";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`fauxqs-loopback: PORT must be a TCP port, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

const app = buildApp({ logger: false });
await app.listen({ port, host: "127.0.0.1" });
console.error(`fauxqs-loopback: listening on http://127.0.0.1:${port}`);

const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
