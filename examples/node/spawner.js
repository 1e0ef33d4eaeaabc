// A node program that leaves orphans behind, as real ones do (a shell helper that
// backgrounds a job, a detached worker nobody waits for), for PID 1 to deal with.
//
//   node spawner.js [N]          (default 10)
//
// It starts N shells that each background a short `sleep` and exit at once: the
// sleeps are orphaned, re-parented to PID 1, and become zombies when they exit
// unless PID 1 reaps them. It also leaves two long-lived processes: a grandchild
// (`sleep 300` backgrounded by a shell, in node's process group) and a detached
// child (`sleep 300` in a session of its own, which no process-group signal
// reaches). Then it prints "spawner: ready" and waits; on SIGTERM it exits 0
// without touching any of them: whatever is left is PID 1's to terminate.
'use strict';

const { spawn } = require('child_process');

const n = Number(process.argv[2] || 10);
let pending = n + 1;

function exited() {
  if (--pending === 0) {
    console.log(`spawner: ready: ${n} short orphans, 2 long-lived leftovers, pid ${process.pid}`);
  }
}

for (let i = 0; i < n; i++) {
  spawn('sh', ['-c', 'sleep 0.5 &'], { stdio: 'ignore' }).on('exit', exited);
}
spawn('sh', ['-c', 'sleep 300 &'], { stdio: 'ignore' }).on('exit', exited);
spawn('sleep', ['300'], { detached: true, stdio: 'ignore' }).unref();

// Keeps the event loop alive until SIGTERM.
const idle = setInterval(() => {}, 1 << 30);

process.on('SIGTERM', () => {
  console.log('spawner: SIGTERM, exit 0 (leaving the rest behind)');
  clearInterval(idle);
  process.exit(0);
});
