// A CloudEvents receiver built on the independent JavaScript SDK, for the delivery tests.
// POST /            -> decode with HTTP.toEvent, re-validate strictly, answer 200 (accepted) or 400 (rejected)
// GET  /events      -> {"accepted": [...], "rejected": [...]} as JSON
// It listens on 127.0.0.1 at the port given as the first argument (0 = any free port) and prints
// one JSON line {"port": N} on stdout once it is listening.
"use strict";

const http = require("http");
const { HTTP, CloudEvent, ValidationError } = require("cloudevents");

const accepted = [];
const rejected = [];
const knownAttributes = new Set(["specversion", "id", "source", "type", "subject", "time",
  "datacontenttype", "dataschema", "data", "data_base64"]);

function modeOf(headers) {
  const contentType = headers["content-type"] || "";
  return contentType.startsWith("application/cloudevents") ? "structured" : "binary";
}

function check(event) {
  // Construct again in strict mode: names, value types and the JSON schema of the spec are checked.
  const strict = new CloudEvent({ ...event }, true);
  strict.validate();
  if (strict.specversion !== "1.0") throw new ValidationError("specversion is not 1.0");
  if (strict.datacontenttype !== "application/json") throw new ValidationError("datacontenttype is not application/json");
  if (typeof strict.data !== "object" || strict.data === null) throw new ValidationError("data is not a JSON object");
  if (Number.isNaN(Date.parse(strict.time))) throw new ValidationError("time is not a timestamp");
  return strict;
}

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    if (request.method === "GET" && request.url === "/events") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ accepted, rejected }));
      return;
    }
    const body = Buffer.concat(chunks).toString("utf8");
    const mode = modeOf(request.headers);
    try {
      const event = check(HTTP.toEvent({ headers: request.headers, body }));
      const extensions = {};
      for (const [key, value] of Object.entries(event)) {
        if (!knownAttributes.has(key)) extensions[key] = value;
      }
      accepted.push({ mode, id: event.id, source: event.source, type: event.type, subject: event.subject,
        time: event.time, datacontenttype: event.datacontenttype, extensions, data: event.data });
      response.writeHead(200);
      response.end();
    } catch (error) {
      rejected.push({ mode, error: String(error && (error.errors ? JSON.stringify(error.errors) : error.message) || error), body });
      response.writeHead(400, { "content-type": "text/plain" });
      response.end(String(error && error.message));
    }
  });
});

server.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});

process.on("SIGTERM", () => server.close(() => process.exit(0)));
