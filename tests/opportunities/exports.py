"""Two CRMs' exports as the tests write them: the Kaggle/Maven "CRM sales opportunities" files (accounts.csv,
sales_pipeline.csv) and a Salesforce ``Opportunity`` export with its ``OpportunityHistory``; the mapping files a
user writes for them; and the company they are imported into (sales agents, product lines)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from evenhand.models import Role, User
from tests.builders import make_product_line, make_team, make_user

MAVEN_ACCOUNTS_HEADER = ["account", "sector", "year_established", "revenue", "employees", "office_location",
                         "subsidiary_of"]
MAVEN_ACCOUNTS = [
    ["Acme Corporation", "technolgy", "1996", "1100.04", "2822", "United States", ""],
    ["Cancity", "retail", "2001", "718.62", "2448", "United States", ""],
    ["Codehow", "software", "1998", "2714.90", "2641", "United States", "Acme Corporation"],
    ["Hatfan", "services", "1982", "792.46", "1299", "United States", ""],
    ["Zumgoity", "medical", "1984", "441.08", "1210", "United States", ""],
]
MAVEN_ACCOUNTS_MAPPING = """\
fields:
  source: {value: maven}
  external_id: account
  name: account
  industry: sector
"""
PIPELINE_HEADER = ["opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date", "close_date",
                   "close_value"]
PIPELINE = [
    ["1C1I7A6R", "Moses Frase", "GTX Plus Basic", "Cancity", "Won", "2016-10-20", "2017-03-01", "1054"],
    ["Z063OYW0", "Darcel Schlecht", "GTXPro", "Isdom", "Won", "2016-10-25", "2017-03-11", "4514"],
    ["EC4QE1BX", "Darcel Schlecht", "MG Special", "Cancity", "Won", "2016-10-25", "2017-03-07", "50"],
    ["MV1LWRNH", "Moses Frase", "GTX Basic", "Codehow", "Won", "2016-10-25", "2017-03-09", "588"],
    ["PE84CX4O", "Zane Levy", "GTX Basic", "Hatfan", "Lost", "2016-10-25", "2017-03-02", "0"],
    ["OLK9LKZB", "Zane Levy", "GTX Plus Basic", "Zumgoity", "Engaging", "2016-11-01", "", ""],
    ["HAXMC4IX", "Moses Frase", "MG Advanced", "", "Engaging", "2016-11-03", "", ""],
    ["NL3JZH1Z", "Darcel Schlecht", "GTX Pro", "", "Prospecting", "", "", ""],
]
# The export spells the product "GTXPro" where its product table says "GTX Pro": the mapping's map mends it.
PIPELINE_MAPPING = """\
fields:
  source: {value: maven}
  external_id: opportunity_id
  owner: sales_agent
  product: {column: product, map: {GTXPro: GTX Pro}}
  account_name: account
  stage: {column: deal_stage, map: {Prospecting: qualification, Engaging: needs_analysis, Won: won, Lost: lost}}
  engaged_at: engage_date
  closed_at: close_date
  amount: close_value
timezone: America/New_York
"""
PRODUCTS = [("GTXB", "GTX Basic"), ("GTXP", "GTX Pro"), ("MGS", "MG Special"), ("MGA", "MG Advanced"),
            ("GTXPB", "GTX Plus Basic"), ("GTXPP", "GTX Plus Pro"), ("GTK5", "GTK 500")]
AGENTS = ["Moses Frase", "Darcel Schlecht", "Zane Levy"]

SF_HEADER = ["Id", "Name", "AccountId", "OwnerEmail", "StageName", "Amount", "CreatedDate", "CloseDate", "IsWon",
             "IsClosed"]
SF_OPPORTUNITIES = [
    ["0065g00000AbCdE", "Acme – 200 seats", "0015g00000XyZ01", "li.na@example.com", "Closed Won", "48000",
     "2024-01-08T09:12:00.000+0000", "2024-03-15", "true", "true"],
    ["0065g00000AbCdF", "Globex renewal", "0015g00000XyZ02", "ZHANG.WEI@example.com", "Negotiation/Review", "12500.50",
     "2024-02-01T02:00:00.000+0000", "2024-06-30", "false", "false"],
    ["0065g00000AbCdG", "Initech pilot", "0015g00000XyZ02", "li.na@example.com", "Closed Lost", "3000",
     "2024-02-10T08:30:00.000+0000", "2024-04-01", "false", "true"],
]
SF_MAPPING = """\
fields:
  source: {value: salesforce}
  external_id: Id
  name: Name
  account: AccountId
  owner: OwnerEmail
  amount: Amount
  stage:
    column: StageName
    map: {Prospecting: qualification, Qualification: qualification, Needs Analysis: needs_analysis,
          Proposal/Price Quote: proposal, Negotiation/Review: negotiation, Closed Won: won, Closed Lost: lost}
  won: IsWon
  closed: IsClosed
  created_at: {column: CreatedDate, format: "%Y-%m-%dT%H:%M:%S.%f%z"}
  closed_at: CloseDate
"""
SF_ACCOUNTS_HEADER = ["Id", "Name", "Industry", "OwnerEmail"]
SF_ACCOUNTS = [["0015g00000XyZ01", "Acme Corp", "Manufacturing", "li.na@example.com"],
               ["0015g00000XyZ02", "Globex", "Retail", "zhang.wei@example.com"]]
SF_ACCOUNTS_MAPPING = """\
fields:
  source: {value: salesforce}
  external_id: Id
  name: Name
  industry: Industry
  owner: OwnerEmail
"""
SF_HISTORY_HEADER = ["OpportunityId", "StageName", "CreatedDate"]
SF_HISTORY = [
    ["0065g00000AbCdE", "Prospecting", "2024-01-08T09:12:00.000+0000"],
    ["0065g00000AbCdE", "Needs Analysis", "2024-01-20T03:00:00.000+0000"],
    ["0065g00000AbCdE", "Needs Analysis", "2024-01-25T03:00:00.000+0000"],  # an amount change: no move
    ["0065g00000AbCdE", "Proposal/Price Quote", "2024-02-12T06:45:00.000+0000"],
    ["0065g00000AbCdE", "Closed Won", "2024-03-15T10:00:00.000+0000"],
    ["0065g00000AbCdF", "Qualification", "2024-02-01T02:00:00.000+0000"],
    ["0065g00000AbCdF", "Negotiation/Review", "2024-05-02T02:00:00.000+0000"],
]
SF_HISTORY_MAPPING = """\
fields:
  opportunity: OpportunityId
  to_stage:
    column: StageName
    map: {Prospecting: qualification, Qualification: qualification, Needs Analysis: needs_analysis,
          Proposal/Price Quote: proposal, Negotiation/Review: negotiation, Closed Won: won, Closed Lost: lost}
  changed_at: {column: CreatedDate, format: "%Y-%m-%dT%H:%M:%S.%f%z"}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def maven_company(session: Session) -> dict[str, User]:
    """The sales agents (found by their names, as the org import from the same dataset leaves them) and the
    product lines of the Maven dataset; a supervisor over Moses Frase and Darcel Schlecht."""
    for code, name in PRODUCTS:
        make_product_line(session, code=code, name=name)
    boss = make_user(session, username="dustin", display_name="Dustin Brinkmann", role=Role.SUPERVISOR)
    central = make_team(session, name="Central", supervisor=boss)
    users = {"Dustin Brinkmann": boss}
    for name in AGENTS:
        users[name] = make_user(session, username=name.lower().replace(" ", "."), display_name=name,
                                team=central if name != "Zane Levy" else None)
    return users


def salesforce_company(session: Session) -> dict[str, User]:
    return {email: make_user(session, username=email.split("@")[0], email=email)
            for email in ("li.na@example.com", "zhang.wei@example.com")}
