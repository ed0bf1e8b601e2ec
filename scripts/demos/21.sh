# title: a chat room: 21_chat_server, two 22_chat_client and a raw client (chapters 21, 22)
# also: 22
start_server server 21_chat_server 127.0.0.1:0
start_interactive ada 22_chat_client "$SERVER_ADDR" Ada
wait_for_output ada "* You are Ada"
start_interactive bob 22_chat_client "$SERVER_ADDR" Bob
wait_for_output ada "* Bob joined"
type_into ada "Hello Bob!"
wait_for_output bob "Ada: Hello Bob!"
type_into bob "Hi Ada. Some colour codes:"
type_into bob $'\e[31mred\e[0m and a bell\a'
wait_for_output ada "and a bell"
end_input bob
wait_client bob
wait_for_output ada "* Bob left"
wait_for_log server "closed."
# A raw client, as nc would be, through bash's /dev/tcp: its name, then a line of 1025 bytes.
say "eve (a raw TCP client) sends 'Eve', then a line of 1025 bytes"
exec {eve}<>"/dev/tcp/${SERVER_ADDR%:*}/${SERVER_ADDR##*:}"
printf 'Eve\n%01025d\n' 0 >&"$eve"
sed 's/^/eve | /' <&"$eve"
exec {eve}>&-
wait_for_output ada "* Eve left"
wait_for_log server "closed: line longer"
type_into ada "/quit"
wait_client ada
wait_for_log server "closed." 2
stop_servers
