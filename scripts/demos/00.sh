# title: one TCP connection seen from both ends with ss: four numbers each (chapter 00)
# needs: ss
# The client is this script itself: bash's /dev/tcp opens a TCP connection and keeps it open,
# so that `ss` can show it while it lasts. Each end of the connection is one row of ss.
command -v ss >/dev/null || fail "ss is not installed (it is in the iproute2 package)"
start_server server 02_tcp_server 127.0.0.1:0
port=${SERVER_ADDR##*:}

say "the client (bash, through /dev/tcp) connects to $SERVER_ADDR and reads the welcome"
exec {sock}<>"/dev/tcp/127.0.0.1/$port" || fail "could not connect to $SERVER_ADDR"
IFS= read -r -N 8 -t 5 welcome <&"$sock" || fail "no welcome from the server within 5 s"
printf 'client | %s\n' "$welcome"

# show_end LABEL FILTER: prints the established rows of `ss -tn FILTER` as
# "LABEL STATE local L  peer P". (Only established ones: an earlier program's connection that
# used the same port may still linger in TIME-WAIT.)
show_end() {
    local rows
    rows=$(ss -Htn state established "$2" |
        awk -v label="$1" '{ printf "%s  ESTAB  local %s  peer %s\n", label, $3, $4 }')
    [[ -n $rows ]] || fail "ss shows no connection for: $2"
    printf '%s\n' "$rows"
}

say "ss -tn '( sport = :$port or dport = :$port )': one row for each end of the connection"
show_end "client end" "dport = :$port"
show_end "server end" "sport = :$port"
client=$(ss -Htn state established "dport = :$port" | awk '{ print $3 }')
cport=${client##*:}
say "the four numbers: 127.0.0.1 port $cport (client) and 127.0.0.1 port $port (server)"
# From here on, this one connection: both ports given.
ours="( sport = :$cport and dport = :$port )"
theirs="( sport = :$port and dport = :$cport )"

say "the client closes its end (FIN); the server reads end of stream and closes too"
exec {sock}>&-
wait_for_log server "closed."
# The end that closed first keeps the four numbers for a while in TIME-WAIT, while the other
# end goes away. The last ACK may still be on its way when the server logs, so look a few
# times (at most 5 s) until both are so.
tries=0
until [[ -n $(ss -Htn state time-wait "$ours") && -z $(ss -Htan "$theirs") ]]; do
    tries=$((tries + 1))
    if [[ $tries -gt 100 ]]; then
        ss -tan "( sport = :$port or dport = :$port )" >&2
        fail "the client's end never reached TIME-WAIT alone"
    fi
    sleep 0.05
done
say "ss -tn state time-wait: the client's end waits, the server's end is gone"
ss -Htn state time-wait "$ours" |
    awk '{ printf "client end  TIME-WAIT  local %s  peer %s\n", $3, $4 }'
stop_servers
