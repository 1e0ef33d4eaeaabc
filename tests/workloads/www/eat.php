<?php
// Allocates ?mb= MiB (default 128), to push a worker past a memory cgroup's limit.
$s = str_repeat('x', (int)($_GET['mb'] ?? 128) << 20);
echo "allocated ", strlen($s) >> 20, " MiB\n";
