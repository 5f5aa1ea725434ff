# RabbitMQ with the management plugin, node data and logs in $ZOO_DIR, in the foreground.
export HOME="$ZOO_DIR" RABBITMQ_MNESIA_BASE="$ZOO_DIR/mnesia" RABBITMQ_LOG_BASE="$ZOO_DIR/log"
export RABBITMQ_NODENAME=zoo@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672
export RABBITMQ_ENABLED_PLUGINS_FILE="$ZOO_DIR/enabled_plugins" RABBITMQ_CONFIG_FILE="$ZOO_DIR/rabbitmq"
export RABBITMQ_DIST_PORT=25672 ERL_EPMD_ADDRESS=127.0.0.1
echo '[rabbitmq_management].' >"$ZOO_DIR/enabled_plugins"
echo 'management.tcp.ip = 127.0.0.1' >"$ZOO_DIR/rabbitmq.conf"
# Erlang's port mapper, started here so that it stays in our process group (the node would
# otherwise start a detached one that outlives the test).
/usr/bin/epmd -address 127.0.0.1 &
exec /usr/lib/rabbitmq/bin/rabbitmq-server
