# shellcheck shell=bash
# Shared by the benchmark scripts (scripts/bench.sh, scripts/bench/*.sh): ports, load, nginx.
# Source it after scripts/lib/tools.sh. Callers keep their started pids in the array PIDS and
# stop them on exit.

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The 1, 5 and 15 minute load averages.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Waits (up to MAX_WAIT s, default 300) while the 1-minute load is above the core count: other
# processes would otherwise take CPU from both sides of a comparison.
wait_for_quiet() {
  local waited=0 max=${MAX_WAIT:-300} nproc
  nproc=$(nproc)
  while ! awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$nproc" 'BEGIN{exit !(l <= n)}'; do
    if [ "$waited" -ge "$max" ]; then
      log "machine still busy (load $(loadavg)); measuring anyway"
      return 0
    fi
    log "machine busy (load $(loadavg)); waiting 30 s"
    sleep 30
    waited=$((waited + 30))
  done
}

# The nginx binary, or nothing when it is not installed.
nginx_bin() {
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

# run_nginx DIR HTTP_BODY: runs nginx (2 workers, in the foreground, everything below DIR)
# with HTTP_BODY inside its `http { }` block; sets NGINX_PID and adds it to PIDS.
run_nginx() {
  local dir=$1 body=$2 user=""
  mkdir -p "$dir/tmp"
  [ "$(id -u)" = 0 ] && user="user root;"
  cat >"$dir/nginx.conf" <<CONF
$user
worker_processes 2;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
$body
}
CONF
  "$(nginx_bin)" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
}
