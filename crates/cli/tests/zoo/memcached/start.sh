# memcached in the foreground (it never daemonizes without -d), as root (-u root), TCP only.
exec /usr/bin/memcached -u root -l 127.0.0.1 -p 11211 -U 0
