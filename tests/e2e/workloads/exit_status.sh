# ctrace run exits with the command's status; a signal death is 128+N.
T=$1
echo '{"exit":7}'
echo '{"kind":"exit","argv0":"sh","signal":9}'
echo '{"kind":"exit","exit_code":7}'
sh -c 'kill -9 $$'
exit 7
