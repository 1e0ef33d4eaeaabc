// An HTTP server that stops the way a container workload should: on SIGTERM it
// stops accepting, lets the requests in flight finish, and exits 0.
//
//   node server.js [PORT]        (or PORT=8080 node server.js; default 8080)
//
// GET /slow answers after SLOW_MS (default 1000) ms, to show that a request in
// flight when SIGTERM arrives still gets its answer. Listens on 127.0.0.1 only.
'use strict';

const http = require('http');

const port = Number(process.argv[2] || process.env.PORT || 8080);
const slowMs = Number(process.env.SLOW_MS || 1000);

const server = http.createServer((req, res) => {
  if (req.url === '/slow') {
    console.log('server: slow request received');
    setTimeout(() => res.end(`slow request done, pid ${process.pid}\n`), slowMs);
  } else {
    res.end(`hello from node, pid ${process.pid}\n`);
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`server: listening on 127.0.0.1:${port}, pid ${process.pid}`);
});

process.on('SIGTERM', () => {
  console.log('server: SIGTERM, closing');
  // close() waits for the open connections; idle keep-alive ones would hold it
  // forever, so they are closed now and busy ones when their response is done.
  server.close(() => {
    console.log('server: closed, exit 0');
    process.exit(0);
  });
  server.closeIdleConnections();
});
