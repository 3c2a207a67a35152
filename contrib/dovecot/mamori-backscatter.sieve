# mamori-backscatter.sieve - file bounces and auto-replies for mail the
# user never sent (mamori's backscatter label) into a folder of their own.
#
# mamorid tags them (backscatter_action = tag, the default) with
#   X-Mamori-Verdict: AUTHSERV; score=N; action=tag; labels=backscatter; ...
# where labels= lists every label attached, comma-separated
# (docs/design/content.md, "Backscatter").  The milter removes any
# X-Mamori-Verdict a sender wrote, so only mamorid's own field is seen.
#
# Use it as a sieve_before script (Dovecot Pigeonhole, Debian package
# dovecot-sieve), e.g. in conf.d/90-sieve.conf:
#   plugin {
#     sieve_before = /etc/dovecot/sieve/mamori-backscatter.sieve
#   }
# then: sievec /etc/dovecot/sieve/mamori-backscatter.sieve
require ["fileinto", "regex", "mailbox"];

if header :regex "X-Mamori-Verdict" "labels=([a-z-]+,)*backscatter" {
	fileinto :create "Backscatter";
	stop;
}
