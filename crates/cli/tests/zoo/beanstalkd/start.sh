# beanstalkd, a work queue, on 127.0.0.1:11300 (it runs in the foreground).
exec /usr/bin/beanstalkd -l 127.0.0.1 -p 11300
