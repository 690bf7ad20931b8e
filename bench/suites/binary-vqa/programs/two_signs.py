def execute_command(image):
    # Question: Are there two or more signs?
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    if len(sign_patches) >= 2:
        return "yes"
    if len(sign_patches) == 1:
        # A second sign may be small or faded: ask for a count as well
        answer = image_patch.simple_query("How many signs are there?")
        return bool_to_yesno(coerce_to_numeric(answer) >= 2)
    return "no"
