<?php
// One quick answer from a php-fpm worker.
echo "hello from php-fpm, worker ", getmypid(), "\n";
