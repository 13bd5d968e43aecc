// The image job in sharp (libvips), for comparison: one process per run.
// Usage: node sharp_job.js SPEC_JSON; prints one line "@@bench-result@@ {json}".
"use strict";
const fs = require("fs");
const path = require("path");

function statusKiB(field) {
  const text = fs.readFileSync("/proc/self/status", "utf8");
  const line = text.split("\n").find((l) => l.startsWith(field + ":"));
  return line ? parseInt(line.split(/\s+/)[1], 10) : null;
}

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const sharp = require(path.join(spec.modules, "sharp"));
  // Timed from here: node start-up and require("sharp") (which initialises libvips) are not.
  const cpuBefore = process.cpuUsage();
  const began = process.hrtime.bigint();
  await sharp(spec.source)
    .rotate()
    .resize(spec.max, spec.max, { fit: "inside", withoutEnlargement: true, kernel: "lanczos3" })
    .composite(spec.overlays.map((o) => ({ input: o.path, left: o.left, top: o.top })))
    .jpeg({ quality: spec.quality })
    .toFile(spec.destination);
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  const cpu = process.cpuUsage(cpuBefore); // every thread of the process (libvips' too)
  const usage = process.resourceUsage();
  const result = {
    seconds,
    cpu_seconds: (cpu.user + cpu.system) / 1e6,
    sharp_version: sharp.versions ? sharp.versions.sharp || null : null,
    libvips_version: sharp.versions ? sharp.versions.vips : null,
    threads: sharp.concurrency(),
    output_bytes: fs.statSync(spec.destination).size,
    process: {
      peak_rss_bytes: (statusKiB("VmHWM") || usage.maxRSS) * 1024,
      cpu_user_seconds: usage.userCPUTime / 1e6,
      cpu_system_seconds: usage.systemCPUTime / 1e6,
      job_seconds: seconds,
    },
  };
  process.stdout.write("@@bench-result@@ " + JSON.stringify(result) + "\n");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
