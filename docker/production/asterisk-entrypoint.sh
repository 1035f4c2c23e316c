#!/bin/sh
# Production Asterisk: fill the configuration's @…@ values from the environment and the
# secrets, refuse to start without them or with a wildcard SIP address, then run Asterisk as
# the asterisk user.
set -eu
fail() { echo "asterisk-entrypoint: $*" >&2; exit 2; }
secret() { [ -s "/run/secrets/$1" ] || fail "secret $1 manquant (docker/production/secrets/)"; tr -d '\n' < "/run/secrets/$1"; }

[ -n "${SIP_BIND:-}" ] || fail "SIP_BIND est requis : l'adresse SIP de l'hôte, par exemple 192.0.2.10:5060"
case "$SIP_BIND" in
  0.0.0.0*|\[::\]*|::*|:*) fail "SIP_BIND=$SIP_BIND : une adresse précise est requise, pas une adresse joker" ;;
esac
SIP_ADDRESS=${SIP_BIND%:*}
for v in CARRIER_CONTACT CARRIER_ADDRESS CARRIER_USER; do
  eval "[ -n \"\${$v:-}\" ]" || fail "$v est requis (docker/production/.env)"
done
case "$CARRIER_ADDRESS" in 0.0.0.0*|::*|\[::\]*) fail "CARRIER_ADDRESS=$CARRIER_ADDRESS : l'adresse de l'opérateur, pas une adresse joker" ;; esac
[ -s /etc/asterisk/pjsip-agents.conf ] || fail "pjsip-agents.conf manquant (voir pjsip-agents.conf.example)"
grep -q '^auth=' /etc/asterisk/pjsip-agents.conf || fail "pjsip-agents.conf : chaque poste a besoin de auth="

ARI_PASSWORD=$(secret ari_password)
AMI_SECRET=$(secret ami_secret)
CARRIER_PASSWORD=$(secret carrier_password)
for f in pjsip.conf ari.conf manager.conf; do
  sed -i -e "s|@SIP_BIND@|$SIP_BIND|g" -e "s|@SIP_ADDRESS@|$SIP_ADDRESS|g" \
         -e "s|@CARRIER_CONTACT@|$CARRIER_CONTACT|g" -e "s|@CARRIER_ADDRESS@|$CARRIER_ADDRESS|g" \
         -e "s|@CARRIER_USER@|$CARRIER_USER|g" -e "s|@CARRIER_PASSWORD@|$CARRIER_PASSWORD|g" \
         -e "s|@ARI_PASSWORD@|$ARI_PASSWORD|g" -e "s|@AMI_SECRET@|$AMI_SECRET|g" "/etc/asterisk/$f"
done
chown -R asterisk:asterisk /var/lib/asterisk /var/log/asterisk /var/spool/asterisk /var/run/asterisk
chown asterisk:recordings /var/spool/asterisk/monitor/astguard
chmod 2770 /var/spool/asterisk/monitor/astguard
exec /usr/sbin/asterisk -f -n -U asterisk -G asterisk
