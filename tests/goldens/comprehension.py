def execute_command(image):
    image_patch = ImagePatch(image)
    people = image_patch.find("person")
    hats = [p for p in people if p.exists("hat")]
    return f"{len(hats)} of {len(people)} wear hats"
