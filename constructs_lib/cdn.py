from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.checkov import skip_check

STATIC_PATH = "/static/*"
# The longest CloudFront keeps an API response, whatever max-age the origin sends
# (the service refuses PUBLIC_READ_MAX_AGE_SECONDS above it).
API_MAX_TTL = cdk.Duration.seconds(60)
# The viewer headers the API reads (the body's type, W3C trace context), and the CloudFront
# header that tells it the viewer used HTTPS whatever the hop to the origin. Nothing else: a
# viewer's Host, X-Forwarded-* or any other header never reaches the origin. The cache policy
# adds the session cookie and the query string.
API_ORIGIN_HEADERS = ("Content-Type", "traceparent", "tracestate", "CloudFront-Forwarded-Proto")


class SiteDistribution(Construct):
    """A CloudFront distribution for the site: dynamic requests to `origin` with the query
    string, the session cookie, `API_ORIGIN_HEADERS` (CloudFront-Forwarded-Proto among them)
    and no other viewer header, cached only when the origin marks a response public (default
    TTL 0, at most `API_MAX_TTL`), keyed on the path, every query string and the
    `session_cookie`, so a request with a session never shares an entry; `/static/*` from a
    private bucket through origin access control, cached; a WAF web ACL; standard logs to
    `log_bucket`; security headers (HSTS, nosniff, frame-deny, referrer policy) on every
    response; HTTP redirected to HTTPS; TLS 1.2+ for viewers when a certificate is given. An origin
    reached over plain HTTP must say why in `plain_http_origin_reason`.

    :param origin: Where dynamic requests go: the site's load balancer, through a VPC origin.
    :param static_bucket: The private bucket `/static/*` is served from, through origin access control.
    :param web_acl_arn: ARN of the CLOUDFRONT-scope WAF web ACL to attach.
    :param log_bucket: Where CloudFront's standard logs go (prefix `cloudfront/`).
    :param session_cookie: The service's session cookie; the API cache keys on it.
    :param domain_name: The site's domain name, served when `certificate_arn` is given too. Default: none, the
        *.cloudfront.net name only
    :param certificate_arn: ARN of an ACM certificate in us-east-1 for `domain_name`; viewers then need TLS 1.2+.
        Default: none, CloudFront's default certificate
    :param price_class: Which edge locations serve viewers. Default: `PriceClass.PRICE_CLASS_100` (North America and
        Europe)
    :param plain_http_origin_reason: Why the origin may be reached over plain HTTP (it acknowledges
        AwsSolutions-CFR5). Default: none, and a plain-HTTP origin fails cdk-nag
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        origin: cloudfront.IOrigin,
        static_bucket: s3.IBucket,
        web_acl_arn: str,
        log_bucket: s3.IBucket,
        session_cookie: str,
        domain_name: str | None = None,
        certificate_arn: str | None = None,
        price_class: cloudfront.PriceClass = cloudfront.PriceClass.PRICE_CLASS_100,
        plain_http_origin_reason: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        api_cache = self._api_cache_policy(session_cookie)
        headers = self._security_headers()
        api_request = self._api_origin_request()
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn) if certificate_arn else None
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=api_cache,
                origin_request_policy=api_request,
                response_headers_policy=headers,
            ),
            additional_behaviors={
                STATIC_PATH: cloudfront.BehaviorOptions(
                    origin=origins.S3BucketOrigin.with_origin_access_control(static_bucket),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                    response_headers_policy=headers,
                    compress=True,
                )
            },
            web_acl_id=web_acl_arn,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix="cloudfront/",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=price_class,
            domain_names=[domain_name] if domain_name and certificate else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
        )
        self._acknowledge(
            tls_fixed_by_cloudfront=certificate is None, plain_http_origin_reason=plain_http_origin_reason
        )

    def _api_cache_policy(self, session_cookie: str) -> cloudfront.CachePolicy:
        # Only what the origin marks public is cached (signed-out public reads, Cache-Control
        # public, max-age=N); everything it marks no-store, or leaves unmarked, goes to the origin.
        return cloudfront.CachePolicy(
            self,
            "ApiCache",
            comment="API: cache what the origin marks public, keyed per session cookie",
            min_ttl=cdk.Duration.seconds(0),
            default_ttl=cdk.Duration.seconds(0),
            max_ttl=API_MAX_TTL,
            cookie_behavior=cloudfront.CacheCookieBehavior.allow_list(session_cookie),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
        )

    def _security_headers(self) -> cloudfront.ResponseHeadersPolicy:
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.days(365), include_subdomains=True, preload=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
                xss_protection=cloudfront.ResponseHeadersXSSProtection(protection=True, mode_block=True, override=True),
            ),
        )

    def _api_origin_request(self) -> cloudfront.OriginRequestPolicy:
        return cloudfront.OriginRequestPolicy(
            self,
            "ApiOriginRequest",
            comment="API: headers it reads, the viewer protocol; cookies and query strings come with the cache key",
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(*API_ORIGIN_HEADERS),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.none(),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.none(),
        )

    def _acknowledge(self, *, tls_fixed_by_cloudfront: bool, plain_http_origin_reason: str | None) -> None:
        if tls_fixed_by_cloudfront:
            acknowledge(
                self.distribution,
                "AwsSolutions-CFR4",
                "No custom domain is configured, so viewers use the default *.cloudfront.net "
                "certificate, whose TLS policy CloudFront fixes; set domain_name and "
                "cloudfront_certificate_arn to enforce TLSv1.2_2021.",
            )
            skip_check(
                self.distribution,
                "CKV_AWS_174",
                "No custom domain is configured, so viewers use the default *.cloudfront.net certificate, "
                "whose TLS policy CloudFront fixes; with domain_name and cloudfront_certificate_arn the "
                "distribution enforces TLSv1.2_2021.",
            )
        if plain_http_origin_reason:
            acknowledge(self.distribution, "AwsSolutions-CFR5", plain_http_origin_reason)
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "A web service for worldwide users has no country to block; the WAF web ACL "
            "filters abusive traffic instead of geography.",
        )

    @property
    def domain_name(self) -> str:
        return self.distribution.distribution_domain_name
