from decimal import Decimal

import factory

from accounts.models import Membership, Team, User
from prompts.models import GenerationJob, ModelPrice, Project
from tests.clock import LONG_AGO


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Membership.Role.MEMBER


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Project {n}")


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GenerationJob

    project = factory.SubFactory(ProjectFactory)
    created_by = factory.SubFactory(UserFactory)
    brief = "A portrait of a lighthouse keeper at dusk"
    temperature = Decimal("0.65")
    max_tokens = 1024
    model = "grok-build-0.1"


class ModelPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelPrice

    model = "grok-build-0.1"
    input_per_mtok = Decimal("2.000000")
    output_per_mtok = Decimal("8.000000")
    effective_from = LONG_AGO
