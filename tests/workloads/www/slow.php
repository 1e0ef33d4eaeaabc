<?php
// A request still in flight when the pool is told to stop: it marks that it has
// started (run/slow.started beside this directory), takes ?s= seconds, answers.
// A signal cuts usleep() short (php-fpm's QUIT reaches the workers too): the loop
// makes the request take its whole time anyway.
touch(__DIR__ . '/../run/slow.started');
$end = microtime(true) + (float)($_GET['s'] ?? 2);
while (($left = $end - microtime(true)) > 0) {
    usleep((int)ceil($left * 1e6));
}
echo "slow request done, worker ", getmypid(), "\n";
