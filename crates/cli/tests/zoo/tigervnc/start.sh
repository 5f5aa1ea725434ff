# TigerVNC's X server alone (no session in it) on 127.0.0.1:5900, no authentication.
exec /usr/bin/Xtigervnc :0 -rfbport 5900 -localhost -SecurityTypes None -nolisten tcp -nolisten unix \
  -geometry 640x480 -desktop zoo
