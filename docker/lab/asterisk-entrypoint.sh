#!/bin/sh
# The lab binds SIP to 127.0.0.1 and the carrier to 127.0.0.1:5080; in a container SIP must
# listen on the container's address and the carrier is yours. Only these two values change.
set -e
sed -i "s/^bind=127.0.0.1:5060/bind=${SIP_BIND:-0.0.0.0:5060}/" /etc/asterisk/pjsip.conf
if [ -n "${CARRIER_CONTACT:-}" ]; then
  sed -i "s|^contact=sip:127.0.0.1:5080|contact=${CARRIER_CONTACT}|" /etc/asterisk/pjsip.conf
fi
exec /usr/sbin/asterisk -f -n -vvv -g
