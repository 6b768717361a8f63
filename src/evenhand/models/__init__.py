"""Every table, imported here so metadata and Alembic see them all."""

from evenhand.models.activity import Activity, ActivityType, Direction, SourceSystem, UnmatchedActivity
from evenhand.models.alerts import Alert, AlertAction, AlertRuleVersion, AlertStatus
from evenhand.models.audit import AuditEntry
from evenhand.models.auth import ApiToken, LoginAttempt, WebSession
from evenhand.models.base import Base
from evenhand.models.capture import CaptureQueueItem, CaptureReceipt, ConnectorStatus, GraphSubscription
from evenhand.models.change import ChangeEntry
from evenhand.models.customer import (
    Account,
    Complaint,
    Contract,
    ContractKind,
    Payment,
    SurveyKind,
    SurveyResponse,
)
from evenhand.models.lead import BehaviourEvent, EventKind, Lead, LeadStatus
from evenhand.models.notify import (
    Channel,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    NotifyEndpoint,
    NotifyPreference,
    ScheduledJob,
)
from evenhand.models.opportunity import OPEN_STAGES, Opportunity, Stage, StageChange
from evenhand.models.org import Department, Leave, Level, Presence, ProductLine, Region, Role, Team, User
from evenhand.models.performance import (
    MetricTarget,
    PeerReview,
    PeerReviewAssignment,
    PeerReviewCycle,
    PeriodStatus,
    ReviewCycleStatus,
    Scorecard,
    ScorecardTemplateVersion,
    ScorePeriod,
)
from evenhand.models.process import FlagKind, FlagStatus, HonestyFlag, StandardVersion
from evenhand.models.qa import QaReview, QaSample, ReviewStatus, RubricVersion
from evenhand.models.routing import (
    KEY_ACCOUNT_GRANT,
    Appeal,
    AppealStatus,
    HeldLead,
    PoolStateRow,
    RoutingDecision,
    RoutingPolicyVersion,
    UserGrant,
)
from evenhand.models.scoring import PredictiveModelVersion, ScoringModelVersion

__all__ = [
    "KEY_ACCOUNT_GRANT",
    "OPEN_STAGES",
    "Account",
    "Activity",
    "ActivityType",
    "Alert",
    "AlertAction",
    "AlertRuleVersion",
    "AlertStatus",
    "ApiToken",
    "Appeal",
    "AppealStatus",
    "AuditEntry",
    "Base",
    "BehaviourEvent",
    "CaptureQueueItem",
    "CaptureReceipt",
    "ChangeEntry",
    "Channel",
    "Complaint",
    "ConnectorStatus",
    "Contract",
    "ContractKind",
    "DeliveryAttempt",
    "Department",
    "Direction",
    "EventKind",
    "FlagKind",
    "FlagStatus",
    "GraphSubscription",
    "HeldLead",
    "HonestyFlag",
    "Lead",
    "LeadStatus",
    "Leave",
    "Level",
    "LoginAttempt",
    "MetricTarget",
    "Notification",
    "NotificationStatus",
    "NotifyEndpoint",
    "NotifyPreference",
    "Opportunity",
    "Payment",
    "PeerReview",
    "PeerReviewAssignment",
    "PeerReviewCycle",
    "PeriodStatus",
    "PoolStateRow",
    "PredictiveModelVersion",
    "Presence",
    "ProductLine",
    "QaReview",
    "QaSample",
    "Region",
    "ReviewCycleStatus",
    "ReviewStatus",
    "Role",
    "RoutingDecision",
    "RoutingPolicyVersion",
    "RubricVersion",
    "ScheduledJob",
    "ScorePeriod",
    "Scorecard",
    "ScorecardTemplateVersion",
    "ScoringModelVersion",
    "SourceSystem",
    "Stage",
    "StageChange",
    "StandardVersion",
    "SurveyKind",
    "SurveyResponse",
    "Team",
    "UnmatchedActivity",
    "User",
    "UserGrant",
    "WebSession",
]
